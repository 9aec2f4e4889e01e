-- Shepherd's own database, beside Temporal's (its schema is created by the worker's migrations).
CREATE DATABASE shepherd;
