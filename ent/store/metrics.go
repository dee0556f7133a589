package store

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// RegisterMetrics registers database/sql's pool statistics (go_sql_* from client_golang's
// DBStats collector: open, in-use and idle connections, waits and their duration, closes) on
// reg, with the label db_name "main" for the pool every write (and, on MySQL, every read) goes
// through and "read" for the SQLite file's readers.
func (db *DB) RegisterMetrics(reg prometheus.Registerer) {
	reg.MustRegister(collectors.NewDBStatsCollector(db.SQL, "main"))
	if db.Read != nil && db.Read != db.SQL {
		reg.MustRegister(collectors.NewDBStatsCollector(db.Read, "read"))
	}
}
