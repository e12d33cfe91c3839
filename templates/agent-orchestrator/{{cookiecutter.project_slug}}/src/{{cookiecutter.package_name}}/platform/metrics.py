{% include "chassis/goldenpath_chassis/metrics.py" %}
