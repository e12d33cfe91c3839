{% include "chassis/goldenpath_chassis/health.py" %}
