// Command {{ cookiecutter.extension_name }} is an AWS Lambda extension. This file only
// wires the processor into the extension's lifecycle; the extension's own work lives
// in processor/processor.go.
package main

import (
	"os"

	"{{ cookiecutter.go_module }}/extension"
	"{{ cookiecutter.go_module }}/processor"
)

func main() {
	os.Exit(extension.Run(processor.New))
}
