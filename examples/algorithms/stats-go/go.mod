module agora.example/algorithms/stats

go 1.26
