module agora.example/go-scan

go 1.21
