module example.com/godev

go 1.21
