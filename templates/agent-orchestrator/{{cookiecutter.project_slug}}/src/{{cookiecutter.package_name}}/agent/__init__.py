"""The agent: a LangGraph graph (graph.py) of a planner and a tool registry, with typed state."""
