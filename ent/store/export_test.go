package store

import "ariga.io/atlas/sql/migrate"

// SetMigrations makes d migrate with the files of dir instead of the built-in ones.
func SetMigrations(d *DB, dir migrate.Dir) { d.migrations = dir }

// LeaseTable is the table of the Galera migration lock.
const LeaseTable = leaseTable

// NodesDSNOf is nodesDSN: the DSN a DSN listing several nodes is opened with.
var NodesDSNOf = nodesDSN
