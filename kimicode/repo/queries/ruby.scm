; Outline query for Ruby (see python.scm for the captures).

(call
  method: (identifier) @_require
  arguments: (argument_list . (string (string_content) @import))
  (#match? @_require "^require(_relative)?$"))

(class name: (_) @name) @definition.class
(class name: (_) @name body: (_) @body) @definition.class
(module name: (_) @name) @definition.module
(module name: (_) @name body: (_) @body) @definition.module
(method name: (_) @name) @definition.method
(method name: (_) @name body: (_) @body) @definition.method
(singleton_method name: (_) @name) @definition.method
(singleton_method name: (_) @name body: (_) @body) @definition.method

(comment) @comment
