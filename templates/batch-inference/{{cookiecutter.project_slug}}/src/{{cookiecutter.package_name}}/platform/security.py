{% include "chassis/goldenpath_chassis/security.py" %}
