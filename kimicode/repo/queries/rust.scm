; Outline query for Rust (see python.scm for the captures).

(use_declaration argument: (_) @import)
(mod_item name: (identifier) @import !body)

(function_item name: (identifier) @name body: (block) @body) @definition.function
(function_signature_item name: (identifier) @name) @definition.function
(struct_item name: (type_identifier) @name body: (field_declaration_list) @body) @definition.struct
(struct_item name: (type_identifier) @name) @definition.struct
(union_item name: (type_identifier) @name body: (_) @body) @definition.struct
(enum_item name: (type_identifier) @name body: (_) @body) @definition.enum
(trait_item name: (type_identifier) @name body: (_) @body) @definition.trait
(impl_item body: (_) @body) @definition.impl
(mod_item name: (identifier) @name body: (_) @body) @definition.module
(type_item name: (type_identifier) @name) @definition.type
(macro_definition name: (identifier) @name (macro_rule) @body) @definition.macro

(line_comment) @comment
(block_comment) @comment
(attribute_item) @attribute
