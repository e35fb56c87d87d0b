module {{ cookiecutter.go_module }}

go {{ cookiecutter.go_version }}
