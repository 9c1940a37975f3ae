// podroutes: the part of kindnet a multi-node cluster needs, for the test bed's kind node image
// (kindnet itself is not on the Go module proxy). It runs on every node (a hostNetwork
// DaemonSet from /kind/manifests/default-cni.yaml) and, every few seconds:
//
//   - writes this node's CNI config (ptp + host-local on the node's spec.podCIDR + portmap),
//     if it differs from what is there (the image's static config covers 10.244.0.0/24,
//     the first node's podCIDR, so a single-node cluster is Ready before this runs);
//   - routes every other node's podCIDR via that node's InternalIP (`ip route replace`).
//
// It reads the nodes with its ServiceAccount token from $CONTROL_PLANE_ENDPOINT (kind adds
// that variable to the manifest, as for kindnet), so it needs no Service and no kube-proxy.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

type nodeList struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			PodCIDR string `json:"podCIDR"`
		} `json:"spec"`
		Status struct {
			Addresses []struct {
				Type    string `json:"type"`
				Address string `json:"address"`
			} `json:"addresses"`
		} `json:"status"`
	} `json:"items"`
}

const confTemplate = `{
  "cniVersion": "0.4.0",
  "name": "nexus-testbed",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": true,
      "mtu": 1500,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "ranges": [[{ "subnet": "%s" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
`

func main() {
	me := os.Getenv("NODE_NAME")
	endpoint := os.Getenv("CONTROL_PLANE_ENDPOINT")
	confPath := os.Getenv("CNI_CONF")
	if confPath == "" {
		confPath = "/etc/cni/net.d/10-nexus-testbed.conflist"
	}
	if me == "" || endpoint == "" {
		log.Fatal("NODE_NAME and CONTROL_PLANE_ENDPOINT must be set")
	}
	ca, err := os.ReadFile(filepath.Join(saDir, "ca.crt"))
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	routes := map[string]string{}
	for {
		if err := syncOnce(client, endpoint, me, confPath, routes); err != nil {
			log.Print(err)
		}
		time.Sleep(3 * time.Second)
	}
}

func syncOnce(client *http.Client, endpoint, me, confPath string, routes map[string]string) error {
	token, err := os.ReadFile(filepath.Join(saDir, "token")) // rotated by the kubelet
	if err != nil {
		return err
	}
	req, _ := http.NewRequest("GET", "https://"+endpoint+"/api/v1/nodes", nil)
	req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(token)))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET /api/v1/nodes: %s", resp.Status)
	}
	var nodes nodeList
	if err := json.NewDecoder(resp.Body).Decode(&nodes); err != nil {
		return err
	}
	for _, n := range nodes.Items {
		cidr := n.Spec.PodCIDR
		if cidr == "" {
			continue
		}
		if n.Metadata.Name == me {
			want := fmt.Sprintf(confTemplate, cidr)
			if have, _ := os.ReadFile(confPath); string(have) != want {
				tmp := confPath + ".tmp"
				if err := os.WriteFile(tmp, []byte(want), 0o644); err != nil {
					return err
				}
				if err := os.Rename(tmp, confPath); err != nil {
					return err
				}
				log.Printf("CNI config: %s", cidr)
			}
			continue
		}
		ip := ""
		for _, a := range n.Status.Addresses {
			if a.Type == "InternalIP" {
				ip = a.Address
				break
			}
		}
		if ip == "" {
			continue
		}
		// every time: cheap, and it restores a route something else removed
		if out, err := exec.Command("ip", "route", "replace", cidr, "via", ip).CombinedOutput(); err != nil {
			log.Printf("ip route replace %s via %s: %v: %s", cidr, ip, err, out)
			continue
		}
		if routes[cidr] != ip {
			routes[cidr] = ip
			log.Printf("route %s via %s (%s)", cidr, ip, n.Metadata.Name)
		}
	}
	return nil
}
