"""Small plants (YAML text) with hand-checked answers, shared by the planner tests."""

SETUP_PLANT = """
name: setups
epoch: 2026-11-30T00:00:00+00:00
lines:
  - id: L
    stations:
      - id: m
        setups: {default: 10, initial: 0}
products:
  - {id: pa, family: A, routing: [{id: o, stations: m, time: 1}]}
  - {id: pb, family: B, routing: [{id: o, stations: m, time: 1}]}
"""

CALENDAR_PLANT = """
name: cal
epoch: 2026-11-30T00:00:00+00:00
settings: {operations_span_breaks: SPAN}
calendars:
  day:
    shifts: [{days: mon-sun, start: "06:00", end: "14:00", breaks: [{start: "10:00", end: "10:30"}]}]
lines:
  - id: L
    calendar: day
    stations:
      - id: m1
        maintenance: [{start: "2026-11-30T07:00:00+00:00", duration: 1h}]
      - id: m2
products:
  - id: p
    routing:
      - {id: a, stations: m1, time: 1h}
      - {id: b, stations: m2, time: 3h}
"""

RESOURCE_PLANT = """
name: res
epoch: 2026-11-30T00:00:00+00:00
resources: [{id: op, capacity: 1}]
materials: [{id: part, stock: 1, deliveries: [{at: 100, quantity: 5}]}]
lines: [{id: L, stations: [{id: m1}, {id: m2}]}]
products:
  - {id: x, routing: [{id: o, stations: m1, time: 10, resources: {op: 1}}]}
  - {id: y, routing: [{id: o, stations: m2, time: 10, resources: {op: 1}}]}
  - {id: z, routing: [{id: o, stations: [m1, m2], time: 5, consumes: {part: 1}}]}
"""
