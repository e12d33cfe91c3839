{% include "chassis/goldenpath_chassis/testing.py" %}
