{% include "chassis/goldenpath_chassis/app.py" %}
