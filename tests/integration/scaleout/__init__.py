"""Scale-out tests: docker-compose.yaml validation and a customer DAG on CeleryExecutor with two workers."""
