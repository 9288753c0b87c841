module github.com/spate-io/spate

go 1.26.8
