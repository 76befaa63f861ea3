; Outline query for C; C++ adds cpp.scm (see python.scm for the captures).
; A function's name sits under its declarator, wrapped in zero or more pointer
; or reference declarators, hence the alternations.

(preproc_include path: (_) @import)

(function_definition
  declarator: [
    (function_declarator declarator: (_) @name)
    (pointer_declarator declarator: (function_declarator declarator: (_) @name))
    (pointer_declarator declarator: (pointer_declarator declarator: (function_declarator declarator: (_) @name)))
  ]
  body: (_) @body) @definition.function

(declaration
  declarator: [
    (function_declarator declarator: (identifier) @name)
    (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))
    (pointer_declarator declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name)))
  ]) @definition.function

(struct_specifier name: (_) @name body: (_) @body) @definition.struct
(union_specifier name: (_) @name body: (_) @body) @definition.struct
(enum_specifier name: (_) @name body: (_) @body) @definition.enum
(type_definition type: (_ body: (_) @body) declarator: (type_identifier) @name) @definition.type
(type_definition declarator: (type_identifier) @name) @definition.type

(comment) @comment
