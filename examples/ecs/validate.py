"""Validates the ECS examples against the ECS API's input shapes, from
botocore's service model (installed with moto by scripts/python-env.sh):
task-definition.json as RegisterTaskDefinition, service.json as
CreateService. Exit 1 with botocore's report on any error."""
import json
import pathlib
import sys

import botocore.session
from botocore.validate import ParamValidator

HERE = pathlib.Path(__file__).parent
model = botocore.session.get_session().get_service_model("ecs")
failed = False
for file, operation in [("task-definition.json", "RegisterTaskDefinition"), ("service.json", "CreateService")]:
    params = json.loads((HERE / file).read_text())
    report = ParamValidator().validate(params, model.operation_model(operation).input_shape)
    if report.has_errors():
        print(f"{file} ({operation}):\n{report.generate_report()}")
        failed = True
    else:
        print(f"{file}: valid {operation} input")
sys.exit(1 if failed else 0)
