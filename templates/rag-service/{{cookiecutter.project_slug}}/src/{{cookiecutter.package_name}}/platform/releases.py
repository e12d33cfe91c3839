{% include "chassis/goldenpath_chassis/releases.py" %}
