module github.com/ganetictl/ganetictl

go 1.26.8
