module etcd-operator-env/pause

go 1.24.0
