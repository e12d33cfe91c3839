{% include "chassis/goldenpath_chassis/audit.py" %}
