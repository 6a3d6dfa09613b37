// These tests start real coordinators, agents and trainers with lease timeouts of a few seconds;
// running them one at a time keeps a 2-core machine from starving heartbeats.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
