//! `nexus-dev promote` (issue 14): the identical spec and image digests, from the local
//! environment to an EKS profile. Built so far: the target, checked before anything is written
//! (`target`: STS identity against the profile's account, the cluster ACTIVE through EKS
//! `DescribeCluster`, a Kubernetes client from what it describes), and the EKS bearer tokens
//! that client sends (`eks_token`, as `aws eks get-token` makes them), and the copy of images
//! by digest between registries (`registry`, the OCI distribution API), and the release
//! records a promotion sends (`release`). Design:
//! docs/design/promote.md.

pub mod ecr;
pub mod eks_token;
pub mod registry;
pub mod release;
pub mod target;
