; Outline query for Python. Capture conventions (shared by every file here):
;   @definition.<kind>  the node of a class/function/... ; <kind> "function" or
;                       "method" marks bodies whose nested definitions are skipped
;   @name               its name (absent for e.g. Rust impl blocks)
;   @body               where the signature ends (the body is never shown)
;   @import             an import target, as written (quotes are stripped later)
;   @comment            comments: doc lines above definitions, and cut out of signatures
;   @attribute          attributes that may sit between a doc comment and its definition

(import_statement name: (dotted_name) @import)
(import_statement name: (aliased_import name: (dotted_name) @import))
(import_from_statement module_name: (_) @import)
(future_import_statement "__future__" @import)

(class_definition name: (identifier) @name body: (block) @body) @definition.class
(function_definition name: (identifier) @name body: (block) @body) @definition.function

(comment) @comment
