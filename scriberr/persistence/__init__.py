"""Persistence: the only package that holds SQL. Models, migrations, the database handle and the
repositories (queue transitions live in `queue_repository`)."""
