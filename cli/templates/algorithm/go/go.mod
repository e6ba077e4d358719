// A path under agora.example (a reserved name), so that no algorithm name clashes with a
// standard library package (a module called "sort" or "time" would not build).
module agora.example/algorithms/{{name}}

go 1.21
