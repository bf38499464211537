# Failed IRSA exchanges, the `zcat | jq` way (issue 6, item e):
#
#   zcat FILE.json.gz | jq -c -f benches/failed_web_identity.jq
#
# One compact line per record with eventName AssumeRoleWithWebIdentity and an errorCode
# (present and not null). No cluster, binding or provider matching: that is what jq alone
# gives a user. `?` keeps a record whose requestParameters or userIdentity is not an object
# from stopping the run.
.Records[]?
| select(.eventName == "AssumeRoleWithWebIdentity" and .errorCode != null)
| {
    eventID,
    eventTime,
    errorCode,
    roleArn: (.requestParameters.roleArn? // null),
    subject: (.userIdentity.userName? // null),
    identityProvider: (.userIdentity.identityProvider? // null),
    sourceIPAddress
  }
