package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Galera programs and library storetest.Galera runs.
const (
	galeraLibrary   = "/usr/lib/galera/libgalera_smm.so"
	galeraServer    = "/usr/sbin/mariadbd"
	galeraInstallDB = "mariadb-install-db"
)

// GaleraCluster is a three-node MariaDB Galera cluster on loopback ports, its nodes' data in a
// temporary folder, started for one test and stopped (folder removed) when it ends. Database is
// a database created for the test on the cluster.
type GaleraCluster struct {
	t        testing.TB
	dir      string
	Database string
	nodes    []*galeraNode
	mu       sync.Mutex
}

type galeraNode struct {
	index   int
	dir     string
	port    int // SQL
	gcomm   int // group communication
	ist     int // incremental state transfer
	sst     int // state snapshot transfer
	cmd     *exec.Cmd
	done    chan struct{}
	logFile string
}

// GaleraAvailable reports why no Galera cluster can start here ("" when one can).
func GaleraAvailable() string {
	if _, err := os.Stat(galeraLibrary); err != nil {
		return "galera-4 is not installed (" + galeraLibrary + " is missing)"
	}
	if _, err := os.Stat(galeraServer); err != nil {
		return "mariadb-server is not installed (" + galeraServer + " is missing)"
	}
	for _, p := range []string{galeraInstallDB, "rsync"} {
		if _, err := exec.LookPath(p); err != nil {
			return p + " is not installed"
		}
	}
	return ""
}

// GaleraOptions are the mariadbd options of the node: the Galera setup docs/SCALING.md shows.
// The caller adds --port, --socket, --datadir and the addresses.
var GaleraOptions = []string{
	"--bind-address=127.0.0.1",
	"--wsrep_on=ON",
	"--wsrep_provider=" + galeraLibrary,
	"--wsrep_sst_method=rsync",
	"--binlog_format=ROW",
	"--innodb_autoinc_lock_mode=2",
	"--default_storage_engine=InnoDB",
	"--innodb_buffer_pool_size=64M",
	"--innodb_log_file_size=16M",
	"--innodb_flush_log_at_trx_commit=2",
	"--character-set-server=utf8mb4",
	"--collation-server=utf8mb4_unicode_ci",
	"--max_connections=500",
}

// GaleraProviderOptions are the wsrep_provider_options of every node besides its addresses: a
// gcache that keeps a few minutes of this load (a node that rejoins catches up by IST), and the
// failure detector of a LAN (the defaults wait 5 s before they suspect a silent node, and the
// cluster's commits wait meanwhile): a killed node, which every other node suspects after 2 s,
// is evicted after about two seconds. A node is declared inactive without the others' consent
// only after 8 s, so that one slowed down by a loaded machine is not cut off while the cluster
// forms.
const GaleraProviderOptions = "gcache.size=64M;evs.keepalive_period=PT0.5S;evs.suspect_timeout=PT2S;" +
	"evs.inactive_timeout=PT8S;evs.inactive_check_period=PT0.5S"

// Galera starts a three-node cluster for the test and creates a database on it. It skips the
// test with the reason when galera-4 is missing, and fails it instead under CI=true.
func Galera(t testing.TB) *GaleraCluster {
	t.Helper()
	if why := GaleraAvailable(); why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("storetest: %s; under CI=true the Galera tests must run", why)
		}
		t.Skip("storetest: " + why)
	}
	// Short path: a socket path must stay under 108 bytes.
	dir, err := os.MkdirTemp("", "galera")
	if err != nil {
		t.Fatalf("storetest: galera folder: %v", err)
	}
	c := &GaleraCluster{t: t, dir: dir}
	t.Cleanup(c.stop)
	ports := freePorts(t, 12)
	for i := range 3 {
		n := &galeraNode{index: i, dir: filepath.Join(dir, "n"+strconv.Itoa(i+1)),
			port: ports[4*i], gcomm: ports[4*i+1], ist: ports[4*i+2], sst: ports[4*i+3]}
		n.logFile = n.dir + ".log"
		c.nodes = append(c.nodes, n)
	}
	start := time.Now()
	tmpl := filepath.Join(dir, "template")
	out, err := exec.Command(galeraInstallDB, "--no-defaults", "--user=root", "--datadir="+tmpl,
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput()
	if err != nil {
		t.Fatalf("storetest: %s: %v\n%s", galeraInstallDB, err, out)
	}
	for _, n := range c.nodes {
		if out, err := exec.Command("cp", "-a", tmpl, n.dir).CombinedOutput(); err != nil {
			t.Fatalf("storetest: copy data folder: %v\n%s", err, out)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("storetest: galera folder: %v", err)
	}
	c.startNode(c.nodes[0], true)
	c.WaitSynced(0, 1)
	for i := 1; i < 3; i++ {
		c.startNode(c.nodes[i], false)
	}
	c.WaitClusterSynced()
	t.Logf("storetest: galera cluster of 3 nodes started in %s", time.Since(start).Round(time.Millisecond))
	c.Database = c.NewDatabase()
	return c
}

// freePorts returns n ports free on the loopback interface, below the kernel's ephemeral range
// (ip_local_port_range, 32768 and up here): a port the kernel hands out (a test server's, or an
// outgoing connection's) could otherwise be taken between this check and the node's bind, which
// happened with every package's tests running at once. The search starts at a random port, so
// that two clusters starting together rarely try the same ones.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	const low, high = 20000, 32000
	var ls []net.Listener
	var ports []int
	start := low + rand.IntN(high-low)
	for i := 0; i < high-low && len(ports) < n; i++ {
		p := low + (start-low+i)%(high-low)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		ports = append(ports, p)
	}
	for _, l := range ls {
		l.Close()
	}
	if len(ports) < n {
		t.Fatalf("storetest: %d free ports between %d and %d, want %d", len(ports), low, high, n)
	}
	return ports
}

func (c *GaleraCluster) clusterAddress() string {
	var a []string
	for _, n := range c.nodes {
		a = append(a, fmt.Sprintf("127.0.0.1:%d", n.gcomm))
	}
	return "gcomm://" + strings.Join(a, ",")
}

func (c *GaleraCluster) startNode(n *galeraNode, bootstrap bool) {
	c.t.Helper()
	if err := c.launch(n, bootstrap); err != nil {
		c.t.Fatalf("storetest: %v", err)
	}
}

// launch starts node n's mariadbd (after recovering its position when it ran before).
func (c *GaleraCluster) launch(n *galeraNode, bootstrap bool) error {
	// The rsync daemon that receives a state transfer drops root for nobody: the joiner's
	// data folder must be nobody's then (mariadbd, run as root, still reads and writes it all).
	if os.Getuid() == 0 {
		if out, err := exec.Command("chown", "-R", "nobody:", n.dir).CombinedOutput(); err != nil {
			return fmt.Errorf("chown data folder: %w\n%s", err, out)
		}
	}
	args := c.nodeArgs(n)
	pos, err := c.recover(n)
	if err != nil {
		return err
	}
	if bootstrap {
		args = append(args, "--wsrep-new-cluster")
	} else if pos != "" {
		// A node killed mid-flight rejoins by IST from where its InnoDB log ends, as
		// galera_recovery does for the packaged service; without it the node needs a full SST.
		args = append(args, "--wsrep_start_position="+pos)
	}
	cmd := exec.Command(galeraServer, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start galera node %d: %w", n.index+1, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	c.mu.Lock()
	n.cmd, n.done = cmd, done
	c.mu.Unlock()
	return nil
}

// recover runs mariadbd --wsrep-recover on a stopped node's data and returns the position it
// recovered ("uuid:seqno"), or "" when there is none (a fresh data folder).
func (c *GaleraCluster) recover(n *galeraNode) (string, error) {
	if _, err := os.Stat(filepath.Join(n.dir, "grastate.dat")); err != nil {
		return "", nil
	}
	logFile := n.dir + ".recover.log"
	_ = os.Remove(logFile)
	args := append(c.nodeArgs(n), "--wsrep-recover", "--log-error="+logFile)
	if out, err := exec.Command(galeraServer, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("recover galera node %d: %w\n%s", n.index+1, err, out)
	}
	b, _ := os.ReadFile(logFile)
	const marker = "WSREP: Recovered position: "
	if i := strings.LastIndex(string(b), marker); i >= 0 {
		pos := strings.TrimSpace(strings.SplitN(string(b)[i+len(marker):], "\n", 2)[0])
		if !strings.HasSuffix(pos, ":-1") {
			return pos, nil
		}
	}
	return "", nil
}

func (c *GaleraCluster) nodeArgs(n *galeraNode) []string {
	args := []string{"--no-defaults", "--user=root",
		"--port=" + strconv.Itoa(n.port),
		"--socket=" + filepath.Join(n.dir, "s"),
		"--datadir=" + n.dir,
		"--pid-file=" + filepath.Join(n.dir, "pid"),
		"--log-error=" + n.logFile,
		"--wsrep_cluster_address=" + c.clusterAddress(),
		"--wsrep_node_address=127.0.0.1",
		fmt.Sprintf("--wsrep_node_name=node%d", n.index+1),
		fmt.Sprintf("--wsrep_sst_receive_address=127.0.0.1:%d", n.sst),
		fmt.Sprintf("--wsrep_provider_options=gmcast.listen_addr=tcp://127.0.0.1:%d;ist.recv_addr=127.0.0.1:%d;%s", n.gcomm, n.ist, GaleraProviderOptions),
	}
	return append(args, GaleraOptions...)
}

// DSN is the go-sql-driver DSN of the test's database on node i (from 0).
func (c *GaleraCluster) DSN(i int) string { return c.dsn(i, c.Database) }

// NodesDSN is the DSN of the test's database that lists the nodes given, in that order
// (tcp(127.0.0.1:p1,127.0.0.1:p2)): a pool that moves to the next node when one goes away.
func (c *GaleraCluster) NodesDSN(nodes ...int) string { return c.dsnAt(c.addrs(nodes...), c.Database) }

// NodesURL is the server's DATABASE_URL for database that lists the nodes given, in that order.
func (c *GaleraCluster) NodesURL(database string, nodes ...int) string {
	return fmt.Sprintf("mysql://root@tcp(%s)/%s", c.addrs(nodes...), database)
}

// addrs is the loopback addresses of the nodes given, comma-separated.
func (c *GaleraCluster) addrs(nodes ...int) string {
	out := make([]string, len(nodes))
	for k, i := range nodes {
		out[k] = fmt.Sprintf("127.0.0.1:%d", c.nodes[i].port)
	}
	return strings.Join(out, ",")
}

// URL is the server's DATABASE_URL for database on node i: mysql://root@tcp(127.0.0.1:port)/database.
func (c *GaleraCluster) URL(i int, database string) string { return c.NodesURL(database, i) }

// NewDatabase creates another empty database on the cluster and returns its name.
func (c *GaleraCluster) NewDatabase() string {
	c.t.Helper()
	name := "t_" + randomHex(8)
	db := c.openAdmin(0, "")
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		c.t.Fatalf("storetest: galera create database: %v", err)
	}
	return name
}

func (c *GaleraCluster) dsn(i int, database string) string { return c.dsnAt(c.addrs(i), database) }

// dsnAt is the DSN of database at addrs (one address, or several: NodesDSN).
func (c *GaleraCluster) dsnAt(addrs, database string) string {
	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "tcp"
	cfg.Addr = addrs
	cfg.DBName = database
	cfg.ParseTime = true
	// Reads wait for what the cluster committed before them: a check reads what every node wrote.
	cfg.Params = map[string]string{"charset": "utf8mb4", "wsrep_sync_wait": "1"}
	return cfg.FormatDSN()
}

func (c *GaleraCluster) openAdmin(i int, database string) *sql.DB {
	c.t.Helper()
	db, err := sql.Open("mysql", c.dsn(i, database))
	if err != nil {
		c.t.Fatalf("storetest: galera open node %d: %v", i+1, err)
	}
	db.SetMaxOpenConns(2)
	return db
}

// Open returns a connection pool to the test's database on node i, closed when the test ends.
func (c *GaleraCluster) Open(i int) *sql.DB {
	c.t.Helper()
	db := c.openAdmin(i, c.Database)
	c.t.Cleanup(func() { db.Close() })
	return db
}

// status reads a wsrep status variable of node i ("" when the node does not answer).
func (c *GaleraCluster) status(db *sql.DB, name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var k, v string
	if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE '"+name+"'").Scan(&k, &v); err != nil {
		return "", err
	}
	return v, nil
}

// synced reports whether the node behind db is Synced, ready, in a cluster of size nodes.
func (c *GaleraCluster) synced(db *sql.DB, size int) error {
	want := map[string]string{"wsrep_local_state_comment": "Synced", "wsrep_ready": "ON", "wsrep_cluster_size": strconv.Itoa(size)}
	for _, k := range []string{"wsrep_local_state_comment", "wsrep_ready", "wsrep_cluster_size"} {
		v, err := c.status(db, k)
		if err != nil {
			return err
		}
		if v != want[k] {
			return fmt.Errorf("%s is %q", k, v)
		}
	}
	return nil
}

// WaitSynced waits until node i answers, is Synced and sees a cluster of size nodes.
func (c *GaleraCluster) WaitSynced(i, size int) {
	c.t.Helper()
	db := c.openAdmin(i, "")
	defer db.Close()
	n := c.nodes[i]
	c.mu.Lock()
	done := n.done
	c.mu.Unlock()
	deadline := time.Now().Add(galeraTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-done:
			c.t.Fatalf("storetest: galera node %d exited while starting:\n%s", i+1, c.tail(n))
		default:
		}
		if last = c.synced(db, size); last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("storetest: galera node %d not synced in a cluster of %d after %s (%v):\n%s", i+1, size, galeraTimeout, last, c.tail(n))
}

// Synced reports whether node i answers, Synced and ready in a cluster of size nodes.
func (c *GaleraCluster) Synced(i, size int) bool {
	db, err := sql.Open("mysql", c.dsn(i, ""))
	if err != nil {
		return false
	}
	defer db.Close()
	return c.synced(db, size) == nil
}

// WaitClusterSynced waits until every running node is Synced in a cluster of all running nodes.
func (c *GaleraCluster) WaitClusterSynced() {
	c.t.Helper()
	var up []int
	for i, n := range c.nodes {
		if c.running(n) {
			up = append(up, i)
		}
	}
	for _, i := range up {
		c.WaitSynced(i, len(up))
	}
}

func (c *GaleraCluster) running(n *galeraNode) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// Kill kills node i with SIGKILL and waits for it to exit.
func (c *GaleraCluster) Kill(i int) {
	c.t.Helper()
	n := c.nodes[i]
	c.mu.Lock()
	cmd, done := n.cmd, n.done
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

// Start starts node i again after Kill; it rejoins the cluster (IST, or SST when the gap is too
// large). Wait for it with WaitClusterSynced.
func (c *GaleraCluster) Start(i int) {
	c.t.Helper()
	if err := c.StartErr(i); err != nil {
		c.t.Fatalf("storetest: %v", err)
	}
}

// StartErr is Start for another goroutine than the test's: it returns what went wrong.
func (c *GaleraCluster) StartErr(i int) error {
	n := c.nodes[i]
	if c.running(n) {
		return fmt.Errorf("galera node %d is running", i+1)
	}
	return c.launch(n, false)
}

// Log is node i's error log, since its first start.
func (c *GaleraCluster) Log(i int) string {
	b, _ := os.ReadFile(c.nodes[i].logFile)
	return string(b)
}

// Size is the number of nodes.
func (c *GaleraCluster) Size() int { return len(c.nodes) }

func (c *GaleraCluster) tail(n *galeraNode) string {
	b, _ := os.ReadFile(n.logFile)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (c *GaleraCluster) stop() {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		c.mu.Lock()
		cmd, done := n.cmd, n.done
		c.mu.Unlock()
		if cmd == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}()
	}
	wg.Wait()
	if c.t.Failed() && os.Getenv("GALERA_KEEP") != "" {
		c.t.Logf("storetest: galera folder kept: %s", c.dir)
		return
	}
	_ = os.RemoveAll(c.dir)
}

// galeraTimeout bounds a node's start or rejoin.
var galeraTimeout = 20 * time.Second
