{% include "chassis/goldenpath_chassis/database.py" %}
