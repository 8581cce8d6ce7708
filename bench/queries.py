"""Counting SQL per request, in-process (P-3).

Two counts:
* `queries`: statements peewee sends through `Database.execute_sql` (every
  SELECT/INSERT/UPDATE/DELETE a model or query makes) - the P-3 figure;
* `statements`: everything SQLite is asked to run on the connection,
  seen with sqlite3's trace callback: also BEGIN/COMMIT and the PRAGMAs
  that run each time a connection opens.
"""
import collections
import contextlib
import re
import time


class QueryCounter:
    def __init__(self, database):
        """`database` is the peewee database itself (models.db.obj)."""
        self.database = database
        self.active = False
        self.queries = []      # (sql, seconds)
        self.statements = []   # every statement traced on the connection
        original_execute = database.execute_sql
        original_hooks = database._add_conn_hooks

        def execute_sql(sql, params=None, *args, **kwargs):
            if not self.active:
                return original_execute(sql, params, *args, **kwargs)
            start = time.perf_counter()
            try:
                return original_execute(sql, params, *args, **kwargs)
            finally:
                self.queries.append((sql, time.perf_counter() - start))

        def add_conn_hooks(conn):
            conn.set_trace_callback(self._trace)
            return original_hooks(conn)

        database.execute_sql = execute_sql
        database._add_conn_hooks = add_conn_hooks

    def _trace(self, statement):
        if self.active:
            self.statements.append(statement)

    @contextlib.contextmanager
    def counting(self):
        self.queries, self.statements = [], []
        self.active = True
        try:
            yield self
        finally:
            self.active = False

    @property
    def count(self):
        return len(self.queries)

    @property
    def seconds(self):
        return sum(s for _sql, s in self.queries)

    def kinds(self):
        """{'SELECT': n, 'INSERT': n, ...} of the counted queries."""
        return dict(collections.Counter(sql.split(None, 1)[0].upper() for sql, _s in self.queries))

    def statement_kinds(self):
        return dict(collections.Counter(s.split(None, 1)[0].upper() for s in self.statements))

    def repeated(self, at_least=2):
        """Query shapes (numbers masked) run `at_least` times: [(n, brief, sql)]."""
        shapes = collections.Counter(shape(sql) for sql, _s in self.queries)
        return [(n, brief(text), text) for text, n in shapes.most_common() if n >= at_least]

    def briefs(self):
        """Every counted query as verb + tables, in order."""
        return [brief(sql) for sql, _s in self.queries]


def brief(sql):
    """'SELECT entry+candidate+outcome' for a statement: its verb and tables."""
    verb = sql.split(None, 1)[0].upper()
    tables = re.findall(r'(?:FROM|JOIN|INTO|UPDATE)\s+"(\w+)"', sql)
    seen = []
    for table in tables:
        if table not in seen:
            seen.append(table)
    return f'{verb} {"+".join(seen)}'


def shape(sql):
    return re.sub(r'\b\d+\b', 'N', re.sub(r'\s+', ' ', sql)).strip()
