{% include "chassis/goldenpath_chassis/config.py" %}
