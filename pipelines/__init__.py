"""The first-party pipeline files, shipped inside the distribution as ``sciconv.pipelines``."""
