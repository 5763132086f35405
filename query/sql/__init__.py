"""The SQL stage (plan -> SQL): statements built as sqlglot trees and rendered for the store's dialect.

- ``dialect``: what differs between SQLite and PostgreSQL (id lists, JSON aggregation, temporary tables, range
  scans, parameters, upserts, recursive queries), behind one object per engine;
- ``build``: the shared pieces (identifiers, id lists, joins of members and edges);
- ``members``: membership and expansion statements; ``history``: history queries; ``load``: loading rows by id;
- ``statements``: an extraction's statements in order, with their temporary tables.

Only this package imports sqlglot.
"""
