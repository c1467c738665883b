"""The flows engine: expressions, schedules, runs, triggers (see docs/flows.md).

Flows are specified in :mod:`fastn_gen.native.flow_spec` and stored by the store; this
package runs them. Every step calls its tool through the gateway's own call path, so a
flow has exactly the tools, credentials, quotas and recording of its tenant.
"""
