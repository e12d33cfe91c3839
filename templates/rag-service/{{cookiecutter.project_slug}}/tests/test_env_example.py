{% include "service_tests/test_env_example.py" %}
