; C++-only patterns, added to c.scm.

(function_definition
  declarator: (reference_declarator (function_declarator declarator: (_) @name))
  body: (_) @body) @definition.function

(declaration
  declarator: (function_declarator declarator: [(qualified_identifier) (destructor_name) (operator_name) (template_function)] @name)) @definition.function
(declaration
  declarator: (reference_declarator (function_declarator declarator: (_) @name))) @definition.function

; Member function declarations inside class bodies.
(field_declaration
  declarator: [
    (function_declarator declarator: (_) @name)
    (pointer_declarator declarator: (function_declarator declarator: (_) @name))
    (reference_declarator (function_declarator declarator: (_) @name))
  ]) @definition.method

(class_specifier name: (_) @name body: (_) @body) @definition.class
(namespace_definition name: (_) @name body: (_) @body) @definition.namespace
(namespace_definition !name body: (_) @body) @definition.namespace
(alias_declaration name: (_) @name) @definition.type
(concept_definition name: (_) @name) @definition.type
