module {{ cookiecutter.go_module }}/tools

go {{ cookiecutter.go_version }}

require {{ cookiecutter.go_module }} v0.0.0

// The tools build against this checkout of the extension, never a published copy.
replace {{ cookiecutter.go_module }} => ../
