{% include "chassis/goldenpath_chassis/secrets.py" %}
