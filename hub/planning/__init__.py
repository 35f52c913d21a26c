"""Demand-driven planning: the planning read model, its queries and the planner's chart."""
