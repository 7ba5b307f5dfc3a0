"""The bundled runbooks (Gherkin feature files), shipped in the package for `kube-runbooks`."""
