# Ephemeral storage: size_in_gib = ceil(spool_max_bytes / 1 GiB) +
# ephemeral_storage_reserve_gib, asked for only above Fargate's default
# 20 GiB, refused above its maximum 200 GiB. (The defaults, 20, are in
# defaults.tftest.hcl.)

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name         = "shop-web"
  router_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0"
}

run "one_byte_over_the_default" {
  command = plan
  variables {
    spool_max_bytes = 10737418241
  }

  assert {
    condition     = one(output.ephemeral_storage).size_in_gib == 21 && output.ephemeral_storage_gib == 21
    error_message = "10 GiB + 1 byte of spool rounds up to 11 GiB, plus 10 GiB reserve: 21 GiB."
  }
}

run "larger_reserve" {
  command = plan
  variables {
    ephemeral_storage_reserve_gib = 15
  }

  assert {
    condition     = one(output.ephemeral_storage).size_in_gib == 25
    error_message = "10 GiB of spool + 15 GiB reserve: 25 GiB."
  }
}

run "large_spool" {
  variables {
    spool_max_bytes = 107374182400
  }

  assert {
    condition     = one(output.ephemeral_storage).size_in_gib == 110
    error_message = "100 GiB of spool + 10 GiB reserve: 110 GiB."
  }

  assert {
    condition = contains(
      output.sink_proxy_container.environment,
      { name = "SINK_PROXY_SPOOL_MAX_BYTES", value = "107374182400" }
    )
    error_message = "sink-proxy's spool limit is the one the storage was sized for."
  }
}

run "at_fargates_maximum" {
  command = plan
  variables {
    spool_max_bytes = 204010946560 # 190 GiB
  }

  assert {
    condition     = one(output.ephemeral_storage).size_in_gib == 200
    error_message = "190 GiB of spool + 10 GiB reserve: 200 GiB, Fargate's maximum."
  }
}

run "over_fargates_maximum" {
  command = plan
  variables {
    spool_max_bytes = 204010946561 # 190 GiB + 1 byte: 201 GiB in all
  }
  expect_failures = [output.ephemeral_storage]
}
