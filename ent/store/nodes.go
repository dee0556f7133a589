package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// A MySQL/MariaDB DSN may list several nodes of one cluster in its address, in the order of
// preference: user:pass@tcp(node1:3306,node2:3306,node3:3306)/db. Each new connection goes to
// the first node that accepts it and, on Galera, is ready for clients (wsrep_ready=ON: not a
// node still joining or cut off from the cluster's majority), so that when a replica's node
// goes away its pool moves to the next one as its connections are replaced, and back to the
// first once that is ready again (a connection lives at most five minutes).
//
// go-sql-driver connects to one address: such a DSN is kept on the network nodesNet (nodesDSN),
// and its pool's connector (nodesConnector) holds one driver connector per node.

// nodesNet is the network of a DSN that lists several nodes.
const nodesNet = "tcp-nodes"

// nodeTimeout bounds the connection to one node, and its readiness check, so that a node that
// does not answer at all (a dead host, not a refused port) does not hold back the next one.
const nodeTimeout = 3 * time.Second

// nodesConnector connects to the first of its nodes that accepts a connection and is ready.
type nodesConnector struct {
	drv   driver.Driver
	addrs []string
	nodes []driver.Connector
}

// newNodesConnector returns the connector of cfg, a DSN on nodesNet: one connector per node,
// each the DSN with that node's address.
func newNodesConnector(drv driver.Driver, cfg *mysql.Config) (*nodesConnector, error) {
	c := &nodesConnector{drv: drv}
	for _, addr := range strings.Split(cfg.Addr, ",") {
		node := cfg.Clone()
		node.Net, node.Addr = "tcp", addr
		conn, err := mysql.NewConnector(node)
		if err != nil {
			return nil, err
		}
		c.addrs, c.nodes = append(c.addrs, addr), append(c.nodes, conn)
	}
	return c, nil
}

// Connect implements driver.Connector.
func (c *nodesConnector) Connect(ctx context.Context) (driver.Conn, error) {
	var errs []error
	for i, node := range c.nodes {
		conn, err := connectReady(ctx, node)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", c.addrs[i], err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("store: no node of %s accepts a connection: %w", strings.Join(c.addrs, ","), errors.Join(errs...))
}

// Driver implements driver.Connector.
func (c *nodesConnector) Driver() driver.Driver { return c.drv }

// errNodeNotReady is a Galera node that accepts connections but not yet clients' statements.
var errNodeNotReady = errors.New("the Galera node is not ready (wsrep_ready is OFF)")

// connectReady connects through node and checks that a Galera node is ready (a server without
// wsrep_ready is not Galera, and ready).
func connectReady(ctx context.Context, node driver.Connector) (driver.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, nodeTimeout)
	defer cancel()
	conn, err := node.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ready, err := wsrepReady(ctx, conn)
	if err == nil && !ready {
		err = errNodeNotReady
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// wsrepReady reports whether the server behind conn takes clients' statements: a Galera node
// (wsrep_on=ON) whose wsrep_ready status is ON, or a server that is not a Galera node.
func wsrepReady(ctx context.Context, conn driver.Conn) (bool, error) {
	on, err := showValue(ctx, conn, "SHOW VARIABLES LIKE 'wsrep_on'")
	if err != nil || !strings.EqualFold(on, "ON") {
		return err == nil, err
	}
	ready, err := showValue(ctx, conn, "SHOW STATUS LIKE 'wsrep_ready'")
	return strings.EqualFold(ready, "ON"), err
}

// showValue runs a SHOW ... LIKE statement on conn and returns the value of its one row ("" for
// none).
func showValue(ctx context.Context, conn driver.Conn, query string) (string, error) {
	q, ok := conn.(driver.QueryerContext)
	if !ok {
		return "", errors.New("store: the connection cannot run a query")
	}
	rows, err := q.QueryContext(ctx, query, nil)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	row := make([]driver.Value, len(rows.Columns()))
	switch err := rows.Next(row); {
	case errors.Is(err, io.EOF):
		return "", nil
	case err != nil:
		return "", err
	case len(row) < 2:
		return "", nil
	}
	switch v := row[1].(type) {
	case []byte:
		return string(v), nil
	case string:
		return v, nil
	}
	return "", nil
}

// NodeAddresses returns the addresses of a MySQL DSN's tcp(...) part, one or several, each
// with its port (3306 when it has none); nil when the DSN names no TCP address.
func NodeAddresses(dsn string) []string {
	_, addrs, _, ok := splitTCPAddress(dsn)
	if !ok {
		return nil
	}
	out := strings.Split(addrs, ",")
	for i, a := range out {
		out[i] = withPort(a)
	}
	return out
}

// nodesDSN rewrites a DSN whose tcp(...) address lists several nodes to the network nodesNet,
// each address with its port; any other DSN is returned as it is.
func nodesDSN(dsn string) string {
	head, addrs, tail, ok := splitTCPAddress(dsn)
	if !ok || !strings.Contains(addrs, ",") {
		return dsn
	}
	return head + nodesNet + "(" + strings.Join(NodeAddresses(dsn), ",") + ")" + tail
}

// splitTCPAddress splits a go-sql-driver DSN around its tcp(...) address: what comes before
// "tcp(", the addresses, and what follows ")". The user info ends at the last "@" before the
// last "/", as the driver reads it.
func splitTCPAddress(dsn string) (head, addrs, tail string, ok bool) {
	slash := strings.LastIndexByte(dsn, '/')
	if slash < 0 {
		return "", "", "", false
	}
	at := strings.LastIndexByte(dsn[:slash], '@')
	addr := dsn[at+1 : slash]
	inner, found := strings.CutPrefix(addr, "tcp(")
	if !found || !strings.HasSuffix(inner, ")") {
		return "", "", "", false
	}
	return dsn[:at+1], strings.TrimSuffix(inner, ")"), dsn[slash:], true
}

// withPort adds MySQL's default port to an address without one.
func withPort(addr string) string {
	addr = strings.TrimSpace(addr)
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return net.JoinHostPort(strings.Trim(addr, "[]"), "3306")
	}
	return addr
}
