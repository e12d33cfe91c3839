{% include "chassis/goldenpath_chassis/tracing.py" %}
