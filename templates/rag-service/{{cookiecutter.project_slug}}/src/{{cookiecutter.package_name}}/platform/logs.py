{% include "chassis/goldenpath_chassis/logs.py" %}
