// Package framework starts real `skiff server` processes for end-to-end tests and hands tests what a user has:
// a kubeconfig, upstream kubectl (`skiff kubectl`) and a client-go clientset. Everything it starts it stops, and
// every directory it makes it removes.
package framework
