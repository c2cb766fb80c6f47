"""Security tests: each one reproduces an attack by a hostile tenant or a careless operator against real parts
(PostgreSQL, the API over HTTP, Airflow's DagBag) and checks that it is refused."""
