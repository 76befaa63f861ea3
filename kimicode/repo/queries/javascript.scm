; JavaScript-only patterns, added to ecmascript.scm.

; Class fields holding arrow functions: handle = (e) => {...}
(field_definition
  property: (_) @name
  value: [(arrow_function body: (_) @body) (function_expression body: (_) @body)]) @definition.method
