module nexus-dev.local/testbed/kind-tools

go 1.24.0
