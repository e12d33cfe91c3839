{% include "chassis/goldenpath_chassis/cli.py" %}
